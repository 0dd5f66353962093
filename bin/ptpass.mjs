#!/usr/bin/env node
// The package's `ptpass` command: runs client.ts through tsx (TypeScript without a build step).
import { register } from 'tsx/esm/api';

register();
await import('../client.ts');
