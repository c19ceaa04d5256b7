//! The escalation policy engine: declarative, explainable, versioned.
