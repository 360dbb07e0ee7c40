// Builds the console (index.html + src/) into dist/console, served by the gateway at /console.
// Run from the repository root: `vite build console --config console/vite.config.ts`.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  // No public/ folder: everything the page loads is bundled and hashed.
  publicDir: false,
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    target: 'es2022',
    // Small enough to inline nothing: keep every asset a separate cacheable file (CSP allows 'self').
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
