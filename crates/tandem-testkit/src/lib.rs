//! Adapter conformance kit and local fakes of the platforms Tandem talks to.
