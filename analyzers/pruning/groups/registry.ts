/** Group rules by operator: the op type for ai.onnx, `domain::op` for other domains. Adding an operator = one rule. */
import type { GroupRule, RuleTable } from "./rule.ts";
import { attentionRules } from "./rules/attention.ts";
import { concatRules } from "./rules/concat.ts";
import { convRules } from "./rules/conv.ts";
import { elementwiseRules } from "./rules/elementwise.ts";
import { expandRules } from "./rules/expand.ts";
import { gatherRules } from "./rules/gather.ts";
import { matmulRules } from "./rules/matmul.ts";
import { miscRules } from "./rules/misc.ts";
import { normRules } from "./rules/norm.ts";
import { poolRules } from "./rules/pool.ts";
import { reduceRules } from "./rules/reduce.ts";
import { reshapeRules } from "./rules/reshape.ts";
import { scatterRules } from "./rules/scatter.ts";
import { sliceRules } from "./rules/slice.ts";
import { transposeRules } from "./rules/transpose.ts";

const tables: RuleTable[] = [
  elementwiseRules, convRules, matmulRules, normRules, reduceRules, poolRules, concatRules, sliceRules,
  gatherRules, reshapeRules, transposeRules, expandRules, miscRules, attentionRules, scatterRules,
];

const rules = new Map<string, GroupRule>();
for (const t of tables) for (const [k, r] of Object.entries(t)) rules.set(k, r);

export function groupRuleFor(domain: string, opType: string): GroupRule | undefined {
  return rules.get(domain && domain !== "ai.onnx" ? `${domain}::${opType}` : opType);
}

export function registerGroupRule(domain: string, opType: string, rule: GroupRule): void {
  rules.set(domain ? `${domain}::${opType}` : opType, rule);
}

export function groupRuleOps(): string[] {
  return [...rules.keys()].sort();
}
