#!/usr/bin/env node
// The `marrowbridge` command. Runs the TypeScript sources through tsx, so no build step is needed.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `marrowbridge needs Node >= 22.18 (found ${process.version}). Run it as \`pnpm exec marrowbridge …\` ` +
      'from the repository, which uses the Node 22 that `pnpm install` put in node_modules/.bin.',
  );
  process.exit(2);
}
require('tsx/cjs/api').register();
require('../src/main.ts').main();
