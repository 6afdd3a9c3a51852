/* FastCGI responder that responds to every request with "Hello, world!\n" as
 * text/plain with Content-Length: the smallest backend, for tests and for
 * benchmarks of the FastCGI adapter. Usage: fcgi_hello SOCKET_PATH|HOST:PORT */
#include "config.h"

#include <stdio.h>

#include "t/apps/fcgi_app.h"

static void
handle_hello(FCGX_Request *req)
{
    static const char response[] =
        "Content-Type: text/plain\r\n"
        "Content-Length: 14\r\n"
        "\r\n"
        "Hello, world!\n";

    FCGX_PutStr(response, sizeof response - 1, req->out);
}

int
main(int argc, char **argv)
{
    return app_serve(argc, argv, handle_hello);
}
