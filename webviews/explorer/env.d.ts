/** The layout worker's bundled source, injected by scripts/build-webviews.mjs. */
declare module "layout-worker-source" {
  const source: string;
  export default source;
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
