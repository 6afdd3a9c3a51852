<?php
// Describes the request as PHP saw it, as one line of JSON. It contains
// selected $_SERVER values (null when unset), the length of each POST field,
// each uploaded file's name and size, and the raw body's length and SHA-256.
// PHP leaves php://input empty for multipart/form-data, so the raw body of
// an upload has length 0. ?log=TEXT also passes TEXT to error_log(), which
// PHP-FPM sends to the web server on FCGI_STDERR.

$names = [
    'GATEWAY_INTERFACE', 'SERVER_SOFTWARE', 'SERVER_PROTOCOL', 'REQUEST_METHOD',
    'REQUEST_URI', 'SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO', 'PHP_SELF',
    'QUERY_STRING', 'CONTENT_TYPE', 'CONTENT_LENGTH', 'DOCUMENT_ROOT',
    'REMOTE_ADDR', 'REMOTE_PORT', 'SERVER_ADDR', 'SERVER_PORT', 'SERVER_NAME',
    'HTTP_HOST', 'HTTPS',
];
$server = [];
foreach ($names as $name) {
    $server[$name] = $_SERVER[$name] ?? null;
}

$post_sizes = [];
foreach ($_POST as $field => $value) {
    $post_sizes[$field] = is_string($value) ? strlen($value) : count($value);
}

$files = [];
foreach ($_FILES as $field => $file) {
    $files[$field] = ['name' => $file['name'], 'size' => $file['size'], 'error' => $file['error']];
}

$body = file_get_contents('php://input');

if (isset($_GET['log'])) {
    error_log($_GET['log']);
}

header('Content-Type: application/json');
echo json_encode([
    'server' => $server,
    'post_sizes' => (object)$post_sizes,
    'files' => (object)$files,
    'body_length' => strlen($body),
    'body_sha256' => hash('sha256', $body),
], JSON_UNESCAPED_SLASHES), "\n";
