// Convolution and pooling options: dilated and grouped Conv2d, padded pooling, adaptive pooling,
// BatchNorm without affine parameters or running statistics.
import CSmallNetABI
import SmallNet

/// Appends a layer built for the model's current output shape.
private func appendLayer(_ handle: OpaquePointer?, _ build: ([Int]) throws -> Layer) -> sn_status {
    guarded {
        let box = try modelBox(handle)
        try box.model.append(try build(box.model.outputShape))
    }
}

/// The shape of a layer that needs (C, H, W) inputs.
private func imageShape(_ shape: [Int], _ name: String) throws -> [Int] {
    guard shape.count == 3 else {
        throw SmallNetError.shapeMismatch("\(name) needs (C, H, W) inputs; the model's output is \(shape)")
    }
    return shape
}

@_cdecl("sn_conv2d_params_default")
public func sn_conv2d_params_default(_ out: UnsafeMutablePointer<sn_conv2d_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        var p = sn_conv2d_params()
        p.struct_size = UInt32(MemoryLayout<sn_conv2d_params>.size)
        p.out_channels = 0
        p.kernel_size = 3
        p.stride = 1
        p.padding = 0
        p.dilation = 1
        p.groups = 1
        p.bias = 1
        p.`init` = SN_INIT_KAIMING
        p.seed = 0
        out.pointee = p
    }
}

@_cdecl("sn_model_add_conv2d_ex")
public func sn_model_add_conv2d_ex(_ model: OpaquePointer?, _ params: UnsafePointer<sn_conv2d_params>?) -> sn_status {
    appendLayer(model) { shape in
        let p = try nonNull(params, "params").pointee
        try checkStructSize(p.struct_size, MemoryLayout<sn_conv2d_params>.size, "sn_conv2d_params")
        let shape = try imageShape(shape, "Conv2d")
        guard p.padding >= 0 || p.padding == SN_PADDING_SAME else {
            throw invalid("padding must be non-negative or SN_PADDING_SAME (-1), got \(p.padding)")
        }
        let scheme = try weightInit(p.`init`)
        var generator = RandomGenerator(seed: p.seed)
        return try Conv2d(shape[0], Int(p.out_channels), kernelSize: Int(p.kernel_size), stride: Int(p.stride),
                          padding: p.padding == SN_PADDING_SAME ? Conv2d.samePadding : Int(p.padding),
                          dilation: Int(p.dilation), groups: Int(p.groups), bias: try flag(p.bias, "bias"),
                          initialization: scheme, generator: &generator)
    }
}

@_cdecl("sn_model_add_maxpool2d_ex")
public func sn_model_add_maxpool2d_ex(_ model: OpaquePointer?, _ kernelSize: Int32, _ stride: Int32, _ padding: Int32,
                                      _ ceilMode: Int32) -> sn_status {
    appendLayer(model) { _ in
        try MaxPool2d(kernelSize: Int(kernelSize), stride: stride == 0 ? nil : Int(stride), padding: Int(padding),
                      ceilMode: try flag(ceilMode, "ceil_mode"))
    }
}

@_cdecl("sn_model_add_avgpool2d_ex")
public func sn_model_add_avgpool2d_ex(_ model: OpaquePointer?, _ kernelSize: Int32, _ stride: Int32, _ padding: Int32,
                                      _ ceilMode: Int32, _ countIncludePad: Int32) -> sn_status {
    appendLayer(model) { _ in
        try AvgPool2d(kernelSize: Int(kernelSize), stride: stride == 0 ? nil : Int(stride), padding: Int(padding),
                      ceilMode: try flag(ceilMode, "ceil_mode"),
                      countIncludePad: try flag(countIncludePad, "count_include_pad"))
    }
}

@_cdecl("sn_model_add_adaptive_avgpool2d")
public func sn_model_add_adaptive_avgpool2d(_ model: OpaquePointer?, _ outHeight: Int32, _ outWidth: Int32) -> sn_status {
    appendLayer(model) { shape in
        _ = try imageShape(shape, "AdaptiveAvgPool2d")
        return try AdaptiveAvgPool2d(outHeight: Int(outHeight), outWidth: Int(outWidth))
    }
}

@_cdecl("sn_model_add_batchnorm1d_ex")
public func sn_model_add_batchnorm1d_ex(_ model: OpaquePointer?, _ momentum: Float, _ eps: Float, _ affine: Int32,
                                        _ trackRunningStats: Int32) -> sn_status {
    appendLayer(model) { shape in
        guard shape.count == 1 else {
            throw SmallNetError.shapeMismatch("BatchNorm1d needs flat features; the model's output is \(shape) (add Flatten or Linear first)")
        }
        return try BatchNorm1d(shape[0], momentum: momentum, eps: eps, affine: try flag(affine, "affine"),
                               trackRunningStats: try flag(trackRunningStats, "track_running_stats"))
    }
}

@_cdecl("sn_model_add_batchnorm2d_ex")
public func sn_model_add_batchnorm2d_ex(_ model: OpaquePointer?, _ momentum: Float, _ eps: Float, _ affine: Int32,
                                        _ trackRunningStats: Int32) -> sn_status {
    appendLayer(model) { shape in
        let shape = try imageShape(shape, "BatchNorm2d")
        return try BatchNorm2d(shape[0], momentum: momentum, eps: eps, affine: try flag(affine, "affine"),
                               trackRunningStats: try flag(trackRunningStats, "track_running_stats"))
    }
}
