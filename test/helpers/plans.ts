import { type SQL, sql } from 'drizzle-orm';
import { chunkTransactionSettings } from '../../src/activities/step-runner.ts';
import type { Db } from '../../src/db/client.ts';

/** One node of an `EXPLAIN (FORMAT JSON)` plan, with what the plan checks read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/**
 * The plan of a chunk statement as production plans it: inside a transaction with the step runner's chunk
 * settings (`chunkTransactionSettings`) for a step with those options (its handler). Nothing is executed.
 */
export async function chunkPlan(
  db: Db,
  statement: SQL,
  step: { pageByKey?: boolean } = {},
): Promise<PlanNode> {
  let plan: PlanNode | undefined;
  await db.transaction(async (tx) => {
    await chunkTransactionSettings(tx, step);
    const result = await tx.execute<{ 'QUERY PLAN': unknown }>(sql`EXPLAIN (FORMAT JSON) ${statement}`);
    const raw = result[0]?.['QUERY PLAN'];
    plan = ((typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>)[0]!.Plan;
  });
  return plan!;
}

/** The node and every node under it. */
export function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}
