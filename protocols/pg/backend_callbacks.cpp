// Typed dispatch of backend messages (backend_callbacks.hpp).
#include "protocols/pg/backend_callbacks.hpp"

namespace segproxy::protocols::pg {

void BackendDispatch::on_backend_message(char type, std::span<const std::uint8_t> body) {
  switch (type) {
    case 'Z':
      parse_completes_ = 0;
      bind_completes_ = 0;
      if (auto status = parse_ready_for_query(body)) return callbacks_.on_ready_for_query(*status);
      break;
    case 'C':
      if (auto tag = parse_command_complete(body)) return callbacks_.on_command_complete(*tag);
      break;
    case 'E':
      if (auto error = parse_error_view(body)) return callbacks_.on_error_response(*error);
      break;
    case 'S':
      if (auto ps = parse_parameter_status(body)) return callbacks_.on_parameter_status(ps->name, ps->value);
      break;
    case 'G':
      return callbacks_.on_copy_in_response();
    case '1':
    case '2': {
      const std::uint32_t nth = type == '1' ? ++parse_completes_ : ++bind_completes_;
      if (report_completions_) callbacks_.on_extended_complete(type, nth);
      return;
    }
    default:
      return;  // watched for framing only
  }
  callbacks_.on_malformed_body(type);
}

}  // namespace segproxy::protocols::pg
