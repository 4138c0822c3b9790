export * from "./errors.ts";
export * from "./dtypes.ts";
export * from "./model.ts";
export * from "./tensor.ts";
export * from "./save.ts";
export * from "./externalData.ts";
export { encodeBytes, encodeChunks } from "./encode.ts";
