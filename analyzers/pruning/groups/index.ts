export { findGroups, recordRelations, type FindGroupsOptions } from "./analyze.ts";
export { groupRuleFor, registerGroupRule, groupRuleOps } from "./registry.ts";
export type { GroupRule } from "./rule.ts";
export { RuleContext, RuleError } from "./context.ts";
