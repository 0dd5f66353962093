-- Statistics on the lifecycle steps' due-row expressions (src/db/queries/passes.ts): plain column
-- statistics cannot tell that only READY passes' starts and PROGRESSED passes' ends matter, so the planner
-- would expect most passes to be due. With these it reads few due rows from the partial indexes.
CREATE STATISTICS IF NOT EXISTS "passes_ready_start_stats" ON (CASE WHEN status = 'READY' THEN started_at END) FROM "passes";
--> statement-breakpoint
CREATE STATISTICS IF NOT EXISTS "passes_progressed_end_stats" ON (CASE WHEN status = 'PROGRESSED' THEN ended_at END) FROM "passes";
--> statement-breakpoint
ANALYZE "passes";
