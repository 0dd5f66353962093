CREATE TYPE "public"."api_token_scope" AS ENUM('read', 'write');--> statement-breakpoint
CREATE TYPE "public"."import_kind" AS ENUM('members', 'bookings');--> statement-breakpoint
CREATE TYPE "public"."import_status" AS ENUM('STAGED', 'IMPORTED');--> statement-breakpoint
CREATE TABLE "api_idempotency_keys" (
	"token_id" bigint NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_idempotency_keys_token_id_key_pk" PRIMARY KEY("token_id","key")
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "api_tokens_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"scope" "api_token_scope" NOT NULL,
	"token_hash" text NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "api_writes" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "api_writes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"token_id" bigint NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"resource" text NOT NULL,
	"resource_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "import_booking_rows" (
	"import_id" bigint NOT NULL,
	"line" integer NOT NULL,
	"field_count" integer NOT NULL,
	"external_id" text,
	"member_external_id" text,
	"pass_id" text,
	"starts_at" text,
	"ends_at" text,
	"status" text,
	"attended" text,
	"used_pass" text,
	"cancelled_at" text,
	CONSTRAINT "import_booking_rows_import_id_line_pk" PRIMARY KEY("import_id","line")
);
--> statement-breakpoint
CREATE TABLE "import_member_rows" (
	"import_id" bigint NOT NULL,
	"line" integer NOT NULL,
	"field_count" integer NOT NULL,
	"external_id" text,
	"name" text,
	"phone" text,
	"status" text,
	CONSTRAINT "import_member_rows_import_id_line_pk" PRIMARY KEY("import_id","line")
);
--> statement-breakpoint
CREATE TABLE "imports" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "imports_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"kind" "import_kind" NOT NULL,
	"file_name" text NOT NULL,
	"status" "import_status" DEFAULT 'STAGED' NOT NULL,
	"column_count" integer NOT NULL,
	"row_count" integer DEFAULT 0 NOT NULL,
	"written_count" integer,
	"rejected_count" integer,
	"imported_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "imports_row_count_non_negative" CHECK ("imports"."row_count" >= 0)
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "late_cancel" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "api_idempotency_keys" ADD CONSTRAINT "api_idempotency_keys_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_writes" ADD CONSTRAINT "api_writes_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_booking_rows" ADD CONSTRAINT "import_booking_rows_import_id_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_member_rows" ADD CONSTRAINT "import_member_rows_import_id_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_writes_resource_idx" ON "api_writes" USING btree ("resource","resource_id");--> statement-breakpoint
CREATE INDEX "import_booking_rows_external_idx" ON "import_booking_rows" USING btree ("import_id","external_id","line");--> statement-breakpoint
CREATE INDEX "import_member_rows_external_idx" ON "import_member_rows" USING btree ("import_id","external_id","line");--> statement-breakpoint
CREATE INDEX "imports_created_idx" ON "imports" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_external_id_unique" UNIQUE("external_id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_external_id_unique" UNIQUE("external_id");--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_late_cancel_is_cancelled" CHECK (NOT "bookings"."late_cancel" OR "bookings"."status" IN ('CANCELLED', 'COMPLETED'));