ALTER TYPE "public"."run_status" ADD VALUE 'STOPPED';--> statement-breakpoint
CREATE SEQUENCE "public"."step_run_lease" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
ALTER TABLE "step_runs" ADD COLUMN "lease" bigint DEFAULT nextval('step_run_lease') NOT NULL;--> statement-breakpoint
ALTER TABLE "step_runs" ADD COLUMN "range_after" text;--> statement-breakpoint
ALTER TABLE "step_runs" ADD COLUMN "range_up_to" text;