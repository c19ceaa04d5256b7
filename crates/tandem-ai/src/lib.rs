//! Built-in, offline AI providers: the knowledge-base bot, sentiment, summaries.
