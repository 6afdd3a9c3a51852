<?php
// A FastCGI application: PHP runs in php-cgi processes that zserver starts
// and supervises (the "app php" section), and zserver passes them the
// request over FastCGI.
header('Content-Type: text/plain; charset=utf-8');
$name = isset($_GET['name']) && $_GET['name'] !== '' ? $_GET['name'] : 'world';
echo "Hello, ", $name, ", from PHP ", PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION, " over FastCGI.\n\n";
echo "SCRIPT_NAME=", $_SERVER['SCRIPT_NAME'], "\n";
echo "PATH_INFO=", $_SERVER['PATH_INFO'] ?? '', "\n";
echo "pid=", getmypid(), "\n";
