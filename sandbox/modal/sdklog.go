package modal

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler is a slog.Handler that passes the SDK's warnings and errors to
// the server's zap logger. Debug and info records (which include every
// exec's argv) are dropped. The SDK never logs credentials.
type zapHandler struct {
	z      *zap.Logger
	fields []zap.Field
	group  string
}

// sdkLogger returns the *slog.Logger to hand the SDK.
func sdkLogger(z *zap.Logger) *slog.Logger {
	return slog.New(&zapHandler{z: z.With(zap.String("component", "modal-sdk"))})
}

func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.z.Core().Enabled(zapLevel(l))
}

func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := append([]zap.Field(nil), h.fields...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.field(a))
		return true
	})
	if ce := h.z.Check(zapLevel(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.fields = append([]zap.Field(nil), h.fields...)
	for _, a := range attrs {
		c.fields = append(c.fields, h.field(a))
	}
	return &c
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func (h *zapHandler) field(a slog.Attr) zap.Field {
	return zap.Any(h.group+a.Key, a.Value.Resolve().Any())
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}
