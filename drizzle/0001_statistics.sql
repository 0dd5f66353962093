ALTER TABLE "statistics" DROP CONSTRAINT "statistics_day_unique";--> statement-breakpoint
ALTER TABLE "statistics" ADD COLUMN "package_id" bigint;--> statement-breakpoint
ALTER TABLE "statistics" ADD COLUMN "ending_passes" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "statistics" ADD COLUMN "ending_sessions_sold" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "statistics" ADD COLUMN "ending_sessions_used" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "statistics" ADD CONSTRAINT "statistics_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "statistics" ADD CONSTRAINT "statistics_day_package_unique" UNIQUE NULLS NOT DISTINCT("day","package_id");--> statement-breakpoint
ALTER TABLE "statistics" ADD CONSTRAINT "statistics_counts_non_negative" CHECK ("statistics"."bookings" >= 0 AND "statistics"."attended" >= 0 AND "statistics"."no_shows" >= 0 AND "statistics"."cancelled" >= 0
        AND "statistics"."sessions_deducted" >= 0 AND "statistics"."passes_issued" >= 0 AND "statistics"."passes_expired" >= 0
        AND "statistics"."active_passes" >= 0 AND "statistics"."ending_passes" >= 0 AND "statistics"."ending_sessions_sold" >= 0
        AND "statistics"."ending_sessions_used" >= 0);--> statement-breakpoint
ALTER TABLE "statistics" ADD CONSTRAINT "statistics_used_within_sold" CHECK ("statistics"."ending_sessions_used" <= "statistics"."ending_sessions_sold");