/**
 * emitter.ts - a tiny typed event emitter (no dependency, works in
 * browsers and Node). Listeners run synchronously in registration order;
 * one that throws does not stop the others or the client: the exception is
 * rethrown asynchronously (it shows up as an uncaught error).
 */
export class Emitter<E extends { [K in keyof E]: (...a: any[]) => void }> {
    private ls = new Map<keyof E, Set<(...a: any[]) => void>>();

    /** Adds a listener; returns a function that removes it. */
    on<K extends keyof E>(name: K, fn: E[K]): () => void {
        let s = this.ls.get(name);
        if (!s) this.ls.set(name, (s = new Set()));
        s.add(fn);
        return () => this.off(name, fn);
    }

    off<K extends keyof E>(name: K, fn: E[K]): void {
        this.ls.get(name)?.delete(fn);
    }

    /** Resolves with the first event `name` for which `pred` holds (default: any). */
    once<K extends keyof E>(name: K, pred?: (...a: Parameters<E[K]>) => boolean): Promise<Parameters<E[K]>[0]> {
        return new Promise((resolve) => {
            const fn = ((...a: Parameters<E[K]>) => {
                if (pred && !pred(...a)) return;
                this.off(name, fn);
                resolve(a[0]);
            }) as E[K];
            this.on(name, fn);
        });
    }

    protected emit<K extends keyof E>(name: K, ...a: Parameters<E[K]>): void {
        const s = this.ls.get(name);
        if (!s) return;
        for (const fn of [...s]) {
            try {
                fn(...a);
            } catch (e) {
                setTimeout(() => {
                    throw e;
                }, 0);
            }
        }
    }
}
