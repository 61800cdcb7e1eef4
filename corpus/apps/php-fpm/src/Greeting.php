<?php

final class Greeting
{
    public static function text(): string
    {
        return 'hello over FastCGI';
    }
}
