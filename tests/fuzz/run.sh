#!/usr/bin/env bash
# Placeholder until fuzz targets land: fails loudly if called with none.
echo "fuzz: no targets yet" >&2
