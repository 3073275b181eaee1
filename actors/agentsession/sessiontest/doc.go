// Package sessiontest holds the fakes of the interfaces agentsession
// declares (Sink, Presence, Commands, Clock), shared by the tests of
// actors/agentsession and gateway/agentsocket so that both exercise the same
// doubles. Each fake is safe for concurrent use and records what it was
// asked, for the test to assert on.
//
// Only tests import this package.
package sessiontest
