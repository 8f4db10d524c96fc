#!/usr/bin/env -S node --import tsx
// The `spade` command runs the TypeScript sources directly (no build step).
import '../src/bin.ts';
