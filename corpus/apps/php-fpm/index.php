<?php
require __DIR__ . '/src/Greeting.php';

header('Content-Type: application/json');
echo json_encode([
    'status' => 'php-fpm ok',
    'php' => PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION,
    'sapi' => PHP_SAPI,
    'greeting' => Greeting::text(),
]);
