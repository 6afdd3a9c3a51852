#!/usr/bin/perl
# CGI script that describes its request: every environment variable as a
# NAME=VALUE line sorted by name in byte order, then "BODY <length> <sha256>"
# of the request body. As RFC 3875 (4.2) requires, it reads at most
# CONTENT_LENGTH bytes, and without CONTENT_LENGTH no body at all.
use strict;
use warnings;
use Digest::SHA;

binmode STDIN;
binmode STDOUT;

my $wanted = $ENV{CONTENT_LENGTH} // '';
$wanted = 0 unless $wanted =~ /\A[0-9]+\z/;

my $digest = Digest::SHA->new(256);
my $length = 0;
while ($length < $wanted) {
    my $chunk_size = $wanted - $length < 65536 ? $wanted - $length : 65536;
    my $n = read(STDIN, my $chunk, $chunk_size);
    die "env.pl: reading the request body failed: $!\n" unless defined $n;
    last if $n == 0;
    $digest->add($chunk);
    $length += $n;
}

print "Content-Type: text/plain\n\n";
print "$_=$ENV{$_}\n" for sort keys %ENV;
printf "BODY %d %s\n", $length, $digest->hexdigest;
