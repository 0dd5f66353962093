ALTER TABLE "bulk_passes" ADD COLUMN "issue_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bulk_passes" ADD COLUMN "skipped_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "bulk_passes" ADD CONSTRAINT "bulk_passes_skipped_count_non_negative" CHECK ("bulk_passes"."skipped_count" >= 0);