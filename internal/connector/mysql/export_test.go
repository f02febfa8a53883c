package mysql

// NativeHash exposes nativeHash to the black-box tests.
var NativeHash = nativeHash

// IsMariaDB exposes isMariaDB to the black-box tests.
var IsMariaDB = isMariaDB
