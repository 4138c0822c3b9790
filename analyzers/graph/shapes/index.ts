export * from "./infer.ts";
export * from "./runtimeShapes.ts";
export { supportedOps, registerShapeRule } from "./registry.ts";
export type { KnownValue } from "./values.ts";
