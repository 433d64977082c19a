"""Pure compilation of Decisions into OpenFlow intents, and diffs against what is installed."""
