"""Files to take away: the coloured side-by-side .docx/.md exports, Word tracked changes (B as revisions of A),
and the draft check's report."""
