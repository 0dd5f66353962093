CREATE TABLE "closure_extensions" (
	"closure_id" bigint NOT NULL,
	"pass_id" bigint NOT NULL,
	"days" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "closure_extensions_closure_id_pass_id_pk" PRIMARY KEY("closure_id","pass_id"),
	CONSTRAINT "closure_extensions_days_positive" CHECK ("closure_extensions"."days" > 0)
);
--> statement-breakpoint
CREATE TABLE "pass_holds" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "pass_holds_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"pass_id" bigint NOT NULL,
	"starts_on" date NOT NULL,
	"ends_on" date NOT NULL,
	"extended_days" integer NOT NULL,
	"reason" text NOT NULL,
	"created_by" text NOT NULL,
	"ended_early_on" date,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pass_holds_range" CHECK ("pass_holds"."ends_on" >= "pass_holds"."starts_on"),
	CONSTRAINT "pass_holds_extended_days_non_negative" CHECK ("pass_holds"."extended_days" >= 0),
	CONSTRAINT "pass_holds_ended_early_within" CHECK ("pass_holds"."ended_early_on" IS NULL OR ("pass_holds"."ended_early_on" >= "pass_holds"."starts_on" AND "pass_holds"."ended_early_on" <= "pass_holds"."ends_on"))
);
--> statement-breakpoint
CREATE TABLE "studio_closures" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "studio_closures_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"starts_on" date NOT NULL,
	"ends_on" date NOT NULL,
	"reason" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "studio_closures_range" CHECK ("studio_closures"."ends_on" >= "studio_closures"."starts_on")
);
--> statement-breakpoint
ALTER TABLE "closure_extensions" ADD CONSTRAINT "closure_extensions_closure_id_studio_closures_id_fk" FOREIGN KEY ("closure_id") REFERENCES "public"."studio_closures"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "closure_extensions" ADD CONSTRAINT "closure_extensions_pass_id_passes_id_fk" FOREIGN KEY ("pass_id") REFERENCES "public"."passes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pass_holds" ADD CONSTRAINT "pass_holds_pass_id_passes_id_fk" FOREIGN KEY ("pass_id") REFERENCES "public"."passes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "closure_extensions_pass_idx" ON "closure_extensions" USING btree ("pass_id");--> statement-breakpoint
CREATE INDEX "pass_holds_pass_idx" ON "pass_holds" USING btree ("pass_id","starts_on");--> statement-breakpoint
CREATE INDEX "passes_ready_start_idx" ON "passes" USING btree ("started_at","id") WHERE "passes"."status" = 'READY';--> statement-breakpoint
CREATE INDEX "passes_progressed_end_idx" ON "passes" USING btree ("ended_at","id") WHERE "passes"."status" = 'PROGRESSED';--> statement-breakpoint
CREATE INDEX "passes_progressed_used_up_idx" ON "passes" USING btree ("id") WHERE "passes"."status" = 'PROGRESSED' AND "passes"."remaining_count" = 0;