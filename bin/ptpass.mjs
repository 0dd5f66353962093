#!/usr/bin/env node
// The package's `ptpass` command: the compiled client (`npm run build` writes dist/; `npm install`,
// `npm start` and the Docker image run it).
try {
  await import('../dist/client.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/client.js')) throw err;
  process.stderr.write('ptpass: not built yet; run `npm run build` (or `npm install`) first\n');
  process.exitCode = 1;
}
