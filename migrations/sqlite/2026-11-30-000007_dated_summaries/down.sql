DROP TABLE insignia_summaries;
DROP TABLE discipline_summaries;
