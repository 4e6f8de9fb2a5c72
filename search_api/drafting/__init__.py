"""The drafting workflow: checking a draft against its guidance, last year's plan and its peers; the guidance
links between documents and how a guidance document propagates down the levels; the compare page's picker."""
