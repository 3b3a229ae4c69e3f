DROP TABLE admission_summaries;
DROP TABLE member_year_summaries;
DROP TABLE summary_window;
