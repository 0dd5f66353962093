CREATE TYPE "public"."booking_status" AS ENUM('READY', 'PROGRESSED', 'COMPLETED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."bulk_pass_status" AS ENUM('READY', 'COMPLETED');--> statement-breakpoint
CREATE TYPE "public"."notification_status" AS ENUM('PENDING', 'SENT', 'FAILED');--> statement-breakpoint
CREATE TYPE "public"."pass_status" AS ENUM('READY', 'PROGRESSED', 'EXPIRED');--> statement-breakpoint
CREATE TYPE "public"."run_status" AS ENUM('RUNNING', 'COMPLETED', 'FAILED');--> statement-breakpoint
CREATE TYPE "public"."user_status" AS ENUM('ACTIVE', 'INACTIVE');--> statement-breakpoint
CREATE TABLE "bookings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bookings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"pass_id" bigint,
	"user_id" bigint NOT NULL,
	"status" "booking_status" DEFAULT 'READY' NOT NULL,
	"used_pass" boolean DEFAULT false NOT NULL,
	"attended" boolean DEFAULT false NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"cancelled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bookings_end_after_start" CHECK ("bookings"."ended_at" > "bookings"."started_at"),
	CONSTRAINT "bookings_cancelled_has_time" CHECK ("bookings"."status" <> 'CANCELLED' OR "bookings"."cancelled_at" IS NOT NULL)
);
--> statement-breakpoint
CREATE TABLE "bulk_passes" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bulk_passes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"package_id" bigint NOT NULL,
	"group_id" bigint NOT NULL,
	"status" "bulk_pass_status" DEFAULT 'READY' NOT NULL,
	"count" integer,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"issued_count" integer DEFAULT 0 NOT NULL,
	"completed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bulk_passes_count_positive" CHECK ("bulk_passes"."count" IS NULL OR "bulk_passes"."count" > 0),
	CONSTRAINT "bulk_passes_end_after_start" CHECK ("bulk_passes"."ended_at" IS NULL OR "bulk_passes"."ended_at" > "bulk_passes"."started_at"),
	CONSTRAINT "bulk_passes_issued_count_non_negative" CHECK ("bulk_passes"."issued_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "job_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"workflow_id" text NOT NULL,
	"job" text NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"status" "run_status" DEFAULT 'RUNNING' NOT NULL,
	"read_count" bigint DEFAULT 0 NOT NULL,
	"write_count" bigint DEFAULT 0 NOT NULL,
	"skip_count" bigint DEFAULT 0 NOT NULL,
	"result" jsonb,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event" text NOT NULL,
	"user_id" bigint,
	"dedupe_key" text NOT NULL,
	"channel" text NOT NULL,
	"status" "notification_status" DEFAULT 'PENDING' NOT NULL,
	"subject" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"message" text,
	"due_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notifications_dedupe_key_unique" UNIQUE("dedupe_key"),
	CONSTRAINT "notifications_attempts_non_negative" CHECK ("notifications"."attempts" >= 0)
);
--> statement-breakpoint
CREATE TABLE "packages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "packages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"session_count" integer,
	"period_days" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "packages_session_count_positive" CHECK ("packages"."session_count" IS NULL OR "packages"."session_count" > 0),
	CONSTRAINT "packages_period_days_positive" CHECK ("packages"."period_days" IS NULL OR "packages"."period_days" > 0)
);
--> statement-breakpoint
CREATE TABLE "passes" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "passes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"user_id" bigint NOT NULL,
	"package_id" bigint NOT NULL,
	"bulk_pass_id" bigint,
	"status" "pass_status" DEFAULT 'READY' NOT NULL,
	"remaining_count" integer,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"expired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "passes_bulk_pass_user_unique" UNIQUE("bulk_pass_id","user_id"),
	CONSTRAINT "passes_remaining_count_non_negative" CHECK ("passes"."remaining_count" IS NULL OR "passes"."remaining_count" >= 0),
	CONSTRAINT "passes_end_after_start" CHECK ("passes"."ended_at" IS NULL OR "passes"."ended_at" > "passes"."started_at"),
	CONSTRAINT "passes_expired_has_time" CHECK ("passes"."status" <> 'EXPIRED' OR "passes"."expired_at" IS NOT NULL)
);
--> statement-breakpoint
CREATE TABLE "statistics" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "statistics_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"day" date NOT NULL,
	"bookings" integer DEFAULT 0 NOT NULL,
	"attended" integer DEFAULT 0 NOT NULL,
	"no_shows" integer DEFAULT 0 NOT NULL,
	"cancelled" integer DEFAULT 0 NOT NULL,
	"sessions_deducted" integer DEFAULT 0 NOT NULL,
	"passes_issued" integer DEFAULT 0 NOT NULL,
	"passes_expired" integer DEFAULT 0 NOT NULL,
	"active_passes" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "statistics_day_unique" UNIQUE("day")
);
--> statement-breakpoint
CREATE TABLE "step_runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "step_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"job_run_id" uuid NOT NULL,
	"step" text NOT NULL,
	"partition" integer DEFAULT 0 NOT NULL,
	"status" "run_status" DEFAULT 'RUNNING' NOT NULL,
	"read_count" bigint DEFAULT 0 NOT NULL,
	"write_count" bigint DEFAULT 0 NOT NULL,
	"skip_count" bigint DEFAULT 0 NOT NULL,
	"chunks" integer DEFAULT 0 NOT NULL,
	"checkpoint" text,
	"attempt" integer DEFAULT 1 NOT NULL,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "step_runs_job_step_partition_unique" UNIQUE("job_run_id","step","partition"),
	CONSTRAINT "step_runs_counts_non_negative" CHECK ("step_runs"."read_count" >= 0 AND "step_runs"."write_count" >= 0 AND "step_runs"."skip_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "step_skips" (
	"step_run_id" bigint NOT NULL,
	"item_key" text NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "step_skips_step_run_id_item_key_pk" PRIMARY KEY("step_run_id","item_key")
);
--> statement-breakpoint
CREATE TABLE "user_group_members" (
	"group_id" bigint NOT NULL,
	"user_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_group_members_group_id_user_id_pk" PRIMARY KEY("group_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "user_groups" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "user_groups_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "users_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"phone" text,
	"status" "user_status" DEFAULT 'ACTIVE' NOT NULL,
	"meta" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_pass_id_passes_id_fk" FOREIGN KEY ("pass_id") REFERENCES "public"."passes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bulk_passes" ADD CONSTRAINT "bulk_passes_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bulk_passes" ADD CONSTRAINT "bulk_passes_group_id_user_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."user_groups"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "passes" ADD CONSTRAINT "passes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "passes" ADD CONSTRAINT "passes_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "passes" ADD CONSTRAINT "passes_bulk_pass_id_bulk_passes_id_fk" FOREIGN KEY ("bulk_pass_id") REFERENCES "public"."bulk_passes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "step_runs" ADD CONSTRAINT "step_runs_job_run_id_job_runs_id_fk" FOREIGN KEY ("job_run_id") REFERENCES "public"."job_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "step_skips" ADD CONSTRAINT "step_skips_step_run_id_step_runs_id_fk" FOREIGN KEY ("step_run_id") REFERENCES "public"."step_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_group_members" ADD CONSTRAINT "user_group_members_group_id_user_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."user_groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_group_members" ADD CONSTRAINT "user_group_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bookings_status_started_idx" ON "bookings" USING btree ("status","started_at");--> statement-breakpoint
CREATE INDEX "bookings_undeducted_idx" ON "bookings" USING btree ("id") WHERE "bookings"."used_pass" = false AND "bookings"."status" <> 'CANCELLED';--> statement-breakpoint
CREATE INDEX "bookings_pass_idx" ON "bookings" USING btree ("pass_id");--> statement-breakpoint
CREATE INDEX "bookings_started_idx" ON "bookings" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "bulk_passes_due_idx" ON "bulk_passes" USING btree ("status","started_at","id");--> statement-breakpoint
CREATE INDEX "job_runs_job_started_idx" ON "job_runs" USING btree ("job","started_at");--> statement-breakpoint
CREATE INDEX "job_runs_workflow_idx" ON "job_runs" USING btree ("workflow_id","started_at");--> statement-breakpoint
CREATE INDEX "job_runs_running_idx" ON "job_runs" USING btree ("started_at") WHERE "job_runs"."status" = 'RUNNING';--> statement-breakpoint
CREATE INDEX "notifications_pending_idx" ON "notifications" USING btree ("due_at","id") WHERE "notifications"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "passes_status_id_idx" ON "passes" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "passes_user_idx" ON "passes" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "user_group_members_user_idx" ON "user_group_members" USING btree ("user_id");