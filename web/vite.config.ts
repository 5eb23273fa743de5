// Vite build of the omtp web app. The SDK is imported as `@omtp/client` and
// resolved to its TypeScript source in ../sdk/js (no separate SDK build step;
// esbuild compiles it with the app). `vite build` writes web/dist, the
// directory omtpd serves at / of its WebSocket listener (web_root).
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';

// OMTP_SDK_ENTRY points elsewhere (another checkout of the SDK) when set.
const sdk = process.env.OMTP_SDK_ENTRY || fileURLToPath(new URL('../sdk/js/src/index.ts', import.meta.url));

export default defineConfig({
  plugins: [preact()],
  resolve: { alias: { '@omtp/client': sdk } },
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    // `npm run dev`: the page is served by Vite on :5173 and talks to the
    // omtpd WebSocket listener named by OMTP_WS (default the make-run one).
    port: 5173,
  },
});
