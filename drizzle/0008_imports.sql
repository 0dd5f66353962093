CREATE TYPE "public"."import_kind" AS ENUM('members', 'bookings');--> statement-breakpoint
CREATE TYPE "public"."import_status" AS ENUM('STAGED', 'IMPORTED');--> statement-breakpoint
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
ALTER TABLE "users" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "import_booking_rows" ADD CONSTRAINT "import_booking_rows_import_id_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_member_rows" ADD CONSTRAINT "import_member_rows_import_id_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imports"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "import_booking_rows_external_idx" ON "import_booking_rows" USING btree ("import_id","external_id","line");--> statement-breakpoint
CREATE INDEX "import_member_rows_external_idx" ON "import_member_rows" USING btree ("import_id","external_id","line");--> statement-breakpoint
CREATE INDEX "imports_created_idx" ON "imports" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_external_id_unique" UNIQUE("external_id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_external_id_unique" UNIQUE("external_id");