/** A group rule records how one operator couples the axes of its inputs and outputs. */
import type { RuleContext } from "./context.ts";

export type GroupRule = (ctx: RuleContext) => void;

export type RuleTable = Record<string, GroupRule>;
