// Fails early, with a fix, when a script runs under a Node older than the project needs.
// `pnpm install` puts Node 22 (the `node` devDependency) first on the PATH of every pnpm script.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `marrowbridge needs Node >= 22.18 (found ${process.version}). Run it through pnpm (pnpm install, then pnpm test / pnpm start), ` +
      'which uses the Node 22 installed from the npm registry into node_modules/.bin.',
  );
  process.exit(1);
}
