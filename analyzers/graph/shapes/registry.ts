/** Shape rules by operator. Keys are the op type for ai.onnx, `domain::op` for other domains. */
import { elementwiseRules } from "./ops/elementwise.ts";
import { nnRules } from "./ops/nn.ts";
import { tensorRules } from "./ops/tensor.ts";
import type { ShapeRule } from "./rule.ts";

const rules = new Map<string, ShapeRule>(Object.entries({ ...elementwiseRules, ...nnRules, ...tensorRules }));

export function ruleFor(domain: string, opType: string): ShapeRule | undefined {
  if (!domain || domain === "ai.onnx") return rules.get(opType);
  return rules.get(`${domain}::${opType}`);
}

export function registerShapeRule(domain: string, opType: string, rule: ShapeRule): void {
  rules.set(domain ? `${domain}::${opType}` : opType, rule);
}

export function supportedOps(): string[] {
  return [...rules.keys()].sort();
}
