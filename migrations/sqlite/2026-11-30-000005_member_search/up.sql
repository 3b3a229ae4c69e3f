-- The member list's subtree plan (src/store/members/list.rs) starts from a subtree's members
-- and reads them from this index alone: the name words are tested on search_name, and the
-- page is ordered and keyset-paged on (sort_key, id), without reading the table. The index
-- stays first on organization_id for every other query that used it.
--
-- No trigram index (pg_trgm) on PostgreSQL: members' names are a few hundred syllables, so
-- every searched word's trigrams match tens of thousands of members per province; measured
-- on 5.3 million members, the trigram plans took 0.1–1.4 s where the name walk or the
-- subtree plan take milliseconds, and PostgreSQL never chose them.
DROP INDEX members_organization_idx;
CREATE INDEX members_organization_idx ON members (organization_id, sort_key, id, search_name);
