<?php
require __DIR__ . '/vendor/autoload.php';

$app = Slim\Factory\AppFactory::create();
$app->get('/', function ($req, $res) { $res->getBody()->write('guestbook'); return $res; });
$app->run();
