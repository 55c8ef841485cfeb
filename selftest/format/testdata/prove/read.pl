#!/usr/bin/perl
# Reads a TAP stream on stdin with TAP::Parser, the parser under prove
# (Perl's Test::Harness), and prints what it made of it as one JSON object
# for selftest/format's consumer tests: the version, the counts prove sums
# up, every test line (number, raw ok, description, directive, its YAML
# diagnostics), the lines it could not read as TAP, and its parse errors.
use strict;
use warnings;
use JSON::PP;
use TAP::Parser;

# The stream is UTF-8; read it as characters so that YAMLish's \xHH
# escapes and the raw text compare alike, and print UTF-8 JSON.
binmode STDIN, ':encoding(UTF-8)';
my $tap = do { local $/; <STDIN> };
my $p = TAP::Parser->new({ tap => $tap });
my (@tests, @unknown);
while (my $r = $p->next) {
    if ($r->is_test) {
        push @tests, {
            number      => $r->number + 0,
            ok          => $r->is_actual_ok ? JSON::PP::true : JSON::PP::false,
            description => $r->description,
            directive   => $r->directive,
            explanation => $r->explanation,
        };
    } elsif ($r->is_yaml) {
        $tests[-1]{yaml} = $r->data if @tests;
    } elsif ($r->is_unknown) {
        push @unknown, $r->as_string;
    }
}
my @counts = map { $_ => scalar(my @x = $p->$_) } qw(passed failed actual_passed actual_failed todo todo_passed skipped);
print JSON::PP->new->utf8->canonical->encode({
    version      => $p->version + 0,
    tests_run    => $p->tests_run + 0,
    tests_planned => defined $p->tests_planned ? $p->tests_planned + 0 : undef,
    skip_all     => $p->skip_all ? $p->skip_all : undef,
    good_plan    => $p->is_good_plan ? JSON::PP::true : JSON::PP::false,
    has_problems => $p->has_problems ? JSON::PP::true : JSON::PP::false,
    parse_errors => [ $p->parse_errors ],
    @counts,
    tests        => \@tests,
    unknown      => \@unknown,
}) . "\n";
