// Bundles the recorder (fargate/src/main.ts and the shared common/ code it imports) into one ESM
// file for the container. The Dockerfile and the bundle test both run exactly this:
//   node fargate/bundle.mjs <outfile>
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const outfile = process.argv[2];
if (!outfile) {
  console.error('usage: node fargate/bundle.mjs <outfile.mjs>');
  process.exit(2);
}

await build({
  entryPoints: [join(dirname(fileURLToPath(import.meta.url)), 'src', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  minifySyntax: true,
  logLevel: 'warning',
  // ws loads these optional native add-ons only if installed; the image does not install them.
  external: ['bufferutil', 'utf-8-validate'],
  // CommonJS dependencies (ws, the AWS SDK) call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
