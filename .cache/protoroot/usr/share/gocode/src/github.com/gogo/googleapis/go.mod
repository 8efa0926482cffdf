module github.com/gogo/googleapis

go 1.12

require github.com/gogo/protobuf v1.3.1
