// The dashboard's build: `npm run build` here (or `node scripts/build.mjs` at the root) writes
// dist/, which the gateway serves at `/`. Hashed files go to dist/assets/ (cached for good).
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  plugins: [preact()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: true },
  resolve: { conditions: ['@acai/source'] },
});
