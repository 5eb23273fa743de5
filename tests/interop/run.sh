#!/usr/bin/env bash
echo "interop: not yet" >&2
