// `npm run up`: starts the whole system locally. The pieces arrive issue by issue; until the local
// control plane (issue 3) and the Helm chart (issue 6) land, this says what is missing and fails.
const missing = [
  'local Kubernetes control plane built from Go modules (issue 3)',
  'admission webhook server (issue 4)',
  'HTTPRoute controller (issue 5)',
  'Helm chart install (issue 6)',
];
console.error(`npm run up cannot start the system yet. Missing:\n${missing.map((item) => `  - ${item}`).join('\n')}`);
process.exit(1);
